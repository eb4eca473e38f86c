import { createRouter, createWebHistory } from 'vue-router'
import { features } from './feature'
import { signedIn } from './api'

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes: [
    {
      path: '/',
      component: () => import('./components/ConsoleLayout.vue'),
      children: [
        ...features.flatMap((f) => f.routes.filter((r) => !r.meta?.public)),
        { path: ':rest(.*)*', name: 'not-found', component: () => import('./components/NotFound.vue') },
      ],
    },
    ...features.flatMap((f) => f.routes.filter((r) => r.meta?.public)),
  ],
})

router.beforeEach((to) => {
  if (!to.meta.public && !signedIn()) return { name: 'login', query: { next: to.fullPath } }
  return true
})

router.afterEach((to) => {
  const title = typeof to.meta.title === 'string' ? to.meta.title : null
  document.title = title ? `${title} · 业务管理台` : '业务管理台 · 互联网交通安全综合服务管理平台'
})
