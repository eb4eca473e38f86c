import type { Feature } from '@/feature'

export default {
  routes: [
    {
      path: '/vehicle-applications',
      name: 'vehicle-applications-list',
      component: () => import('./ApplicationsPage.vue'),
      meta: { title: '补换领业务' },
    },
    {
      path: '/vehicle-applications/:id',
      name: 'vehicle-applications-detail',
      component: () => import('./ApplicationPage.vue'),
      meta: { title: '业务进度' },
    },
  ],
  tiles: [
    { title: '补换领进度', icon: 'todo-list-o', to: '/vehicle-applications', capability: 'reissue_replace_plates', order: 40 },
  ],
} satisfies Feature
