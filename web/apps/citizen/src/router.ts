import { createRouter, createWebHistory } from 'vue-router'
import { features } from './feature'
import { signedIn } from './api'

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes: [
    ...features.flatMap((f) => f.routes),
    { path: '/:rest(.*)*', name: 'not-found', component: () => import('./components/NotFound.vue') },
  ],
  scrollBehavior: () => ({ top: 0 }),
})

// Pages are private unless their route says `meta: { public: true }`.
router.beforeEach((to) => {
  if (!to.meta.public && !signedIn()) return { name: 'login', query: { next: to.fullPath } }
  return true
})

router.afterEach((to) => {
  const title = typeof to.meta.title === 'string' ? to.meta.title : null
  document.title = title ? `${title} · 交管服务` : '交管服务 · 互联网交通安全综合服务管理平台'
})
