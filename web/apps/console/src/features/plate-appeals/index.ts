import type { Feature, StaffRole } from '@/feature'
import { onlyFor } from '@/guard'

// plate-pool's appeals_api.py: the appeals of the office are listed and decided by clerk.review and
// clerk.admin (PP-11).
const DECIDERS: StaffRole[] = ['clerk.review', 'clerk.admin']

export default {
  routes: [
    {
      path: 'plates/appeals',
      name: 'plate-appeals',
      component: () => import('./AppealsPage.vue'),
      meta: { title: '号牌申诉' },
      beforeEnter: onlyFor(DECIDERS),
    },
  ],
  menu: [{ title: '预选号牌申诉', to: '/plates/appeals', group: '号牌管理', roles: DECIDERS, order: 45 }],
} satisfies Feature
