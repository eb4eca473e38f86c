import type { Feature } from '@/feature'

// 预选机动车号牌 (seed 000, PP-01..PP-11): the home of the service with my selections, the published
// segments and their pools, the start form, one selection's steps, and its certificate.
export default {
  routes: [
    { path: '/plates', name: 'plates', component: () => import('./PlatesHome.vue'), meta: { title: '号牌预选' } },
    {
      path: '/plates/segments',
      name: 'plates-segments',
      component: () => import('./SegmentsPage.vue'),
      meta: { title: '号段公示', public: true },
    },
    { path: '/plates/new', name: 'plates-new', component: () => import('./StartPage.vue'), meta: { title: '开始选号' } },
    {
      path: '/plates/selections/:id',
      name: 'plates-selection',
      component: () => import('./SelectionPage.vue'),
      meta: { title: '选号' },
    },
    {
      path: '/plates/selections/:id/certificate',
      name: 'plates-certificate',
      component: () => import('./CertificatePage.vue'),
      meta: { title: '预选号凭证' },
    },
  ],
  tiles: [{ title: '号牌预选', icon: 'logistics', to: '/plates', capability: 'plate_preselection', order: 20 }],
} satisfies Feature
