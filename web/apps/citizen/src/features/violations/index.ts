import type { Feature } from '@/feature'

// VI-02..VI-05: camera-recorded violations of the account's vehicles, handling online with the SMS code,
// the penalty decision, the voucher and paying online.
export default {
  routes: [
    { path: '/violations', name: 'violations', component: () => import('./ViolationListPage.vue'), meta: { title: '交通违法' } },
    { path: '/violations/decisions', name: 'violations-decisions', component: () => import('./DecisionListPage.vue'), meta: { title: '处罚决定书' } },
    { path: '/violations/decisions/:id', name: 'violations-decision', component: () => import('./DecisionPage.vue'), props: true, meta: { title: '处罚决定书' } },
    { path: '/violations/:id', name: 'violations-detail', component: () => import('./ViolationPage.vue'), props: true, meta: { title: '违法详情' } },
    { path: '/violations/:id/handling', name: 'violations-handling', component: () => import('./HandlingPage.vue'), props: true, meta: { title: '在线处理' } },
  ],
  tiles: [
    { title: '违法处理', icon: 'warning-o', to: '/violations', capability: 'handle_camera_violations', order: 40 },
    { title: '罚款缴纳', icon: 'gold-coin-o', to: '/violations/decisions', capability: 'pay_fines', order: 41 },
  ],
} satisfies Feature
