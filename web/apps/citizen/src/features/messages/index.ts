import type { Feature } from '@/feature'

export default {
  routes: [
    { path: '/messages', name: 'messages-list', component: () => import('./MessagesPage.vue'), meta: { title: '消息', tabbar: true } },
    { path: '/messages/:id', name: 'messages-detail', component: () => import('./MessagePage.vue'), meta: { title: '消息详情' } },
  ],
} satisfies Feature
