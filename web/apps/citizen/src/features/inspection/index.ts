import type { Feature } from '@/feature'

export default {
  routes: [
    { path: '/inspection', name: 'inspection-list', component: () => import('./BookingsPage.vue'), meta: { title: '检验预约' } },
    { path: '/inspection/book', name: 'inspection-book', component: () => import('./BookPage.vue'), meta: { title: '预约检验' } },
  ],
  tiles: [{ title: '检验预约', icon: 'calendar-o', to: '/inspection', capability: 'inspection_appointment', order: 30 }],
} satisfies Feature
