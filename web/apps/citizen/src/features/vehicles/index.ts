import type { Feature } from '@/feature'

export default {
  routes: [
    { path: '/vehicles', name: 'vehicles-list', component: () => import('./VehicleList.vue'), meta: { title: '我的机动车' } },
    { path: '/vehicles/:id', name: 'vehicles-detail', component: () => import('./VehicleDetail.vue'), meta: { title: '机动车信息' } },
  ],
  tiles: [{ title: '我的机动车', icon: 'logistics', to: '/vehicles', capability: 'query_vehicles', order: 20 }],
} satisfies Feature
