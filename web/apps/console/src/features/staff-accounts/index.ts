import type { Feature } from '@/feature'
import { onlyFor } from '@/guard'

// identity's staff accounts (ADR 0091): an office's admin sees who has enrolled the second factor and
// resets a lost one (never their own); identity refuses anyone else.
export default {
  routes: [
    {
      path: 'staff',
      name: 'staff-accounts',
      component: () => import('./StaffPage.vue'),
      meta: { title: '民警账号' },
      beforeEnter: onlyFor(['clerk.admin']),
    },
  ],
  menu: [{ title: '民警账号', to: '/staff', group: '系统', roles: ['clerk.admin'], order: 80 }],
} satisfies Feature
