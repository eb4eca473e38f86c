import type { Feature, StaffRole } from '@/feature'
import { onlyFor } from '@/guard'

// vehicle's api/inspections.py: filing stations and plans, publishing plans and suspending a station are
// for `system` clients and clerk.admin (VH-14).
const ADMIN: StaffRole[] = ['clerk.admin']

export default {
  routes: [
    {
      path: 'inspection/stations',
      name: 'inspection-stations',
      component: () => import('./StationsPage.vue'),
      meta: { title: '检验站' },
      beforeEnter: onlyFor(ADMIN),
    },
    {
      path: 'inspection/stations/:stationId/plans',
      name: 'inspection-stations-plans',
      component: () => import('./PlansPage.vue'),
      meta: { title: '检验计划' },
      beforeEnter: onlyFor(ADMIN),
    },
  ],
  menu: [{ title: '检验站与检验计划', to: '/inspection/stations', group: '检验管理', roles: ADMIN, order: 60 }],
} satisfies Feature
