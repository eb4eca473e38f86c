import type { Feature } from '@/feature'

export default {
  routes: [
    { path: '/bindings', name: 'bindings-manage', component: () => import('./BindingsPage.vue'), meta: { title: '绑定管理' } },
  ],
  tiles: [{ title: '绑定管理', icon: 'link-o', to: '/bindings', capability: 'bind_own_vehicle', order: 21 }],
} satisfies Feature
