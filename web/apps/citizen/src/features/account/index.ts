import type { Feature } from '@/feature'

export default {
  routes: [
    { path: '/login', name: 'login', component: () => import('./LoginPage.vue'), meta: { public: true, title: '登录' } },
    { path: '/register', name: 'register', component: () => import('./RegisterPage.vue'), meta: { public: true, title: '注册' } },
    { path: '/me', name: 'me', component: () => import('./MePage.vue'), meta: { title: '我的', tabbar: true } },
  ],
} satisfies Feature
