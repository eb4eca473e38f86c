import type { Feature } from '@/feature'

export default {
  routes: [{ path: '/', name: 'home', component: () => import('./HomePage.vue'), meta: { title: '首页', tabbar: true } }],
} satisfies Feature
