import type { Feature } from '@/feature'

export default {
  routes: [
    { path: '/login', name: 'login', component: () => import('./LoginPage.vue'), meta: { public: true, title: '登录' } },
  ],
} satisfies Feature
