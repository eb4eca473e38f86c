import type { Feature } from '@/feature'

export default {
  routes: [{ path: '', name: 'workbench', component: () => import('./WorkbenchPage.vue'), meta: { title: '工作台' } }],
} satisfies Feature
