import type { Feature, StaffRole } from '@/feature'
import { onlyFor } from '@/guard'

// notify's ops_api.py: every clerk's post reads the delivery records (a citizen at the counter says the SMS
// never came); putting dead letters back in the queue is clerk.admin's, which the page offers only to them.
const EVERY_POST: StaffRole[] = ['clerk.intake', 'clerk.review', 'clerk.archive', 'clerk.admin']

export default {
  routes: [
    {
      path: 'messages/deliveries',
      name: 'sms-deliveries',
      component: () => import('./DeliveriesPage.vue'),
      meta: { title: '短信发送记录' },
      beforeEnter: onlyFor(EVERY_POST),
    },
  ],
  menu: [{ title: '短信发送记录', to: '/messages/deliveries', group: '系统', roles: EVERY_POST, order: 90 }],
} satisfies Feature
