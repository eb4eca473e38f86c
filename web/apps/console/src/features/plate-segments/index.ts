import type { Feature, StaffRole } from '@/feature'
import { onlyFor } from '@/guard'

// plate-pool's require_roles: planning, approving and publishing segments and changing an office's
// settings are clerk.admin's (segments_api.py); the pool figures are public (PP-13), so every post reads them.
const ADMIN: StaffRole[] = ['clerk.admin']
const EVERY_POST: StaffRole[] = ['clerk.intake', 'clerk.review', 'clerk.archive', 'clerk.admin']

export default {
  routes: [
    {
      path: 'plates/segments',
      name: 'plate-segments',
      component: () => import('./SegmentsPage.vue'),
      meta: { title: '号段管理' },
      beforeEnter: onlyFor(ADMIN),
    },
    {
      path: 'plates/pool',
      name: 'plate-segments-pool',
      component: () => import('./PoolPage.vue'),
      meta: { title: '号池统计' },
      beforeEnter: onlyFor(EVERY_POST),
    },
    {
      path: 'plates/settings',
      name: 'plate-segments-settings',
      component: () => import('./SettingsPage.vue'),
      meta: { title: '选号参数' },
      beforeEnter: onlyFor(ADMIN),
    },
  ],
  menu: [
    { title: '号段管理', to: '/plates/segments', group: '号牌管理', roles: ADMIN, order: 40 },
    { title: '号池统计', to: '/plates/pool', group: '号牌管理', roles: EVERY_POST, order: 41 },
    { title: '选号参数', to: '/plates/settings', group: '号牌管理', roles: ADMIN, order: 42 },
  ],
} satisfies Feature
