import type { Feature } from '@/feature'

// PIPL art. 45 (ADR 0093): a copy of what the platform holds about the signed-in person.
export default {
  routes: [
    {
      path: '/me/data-export',
      name: 'data-export',
      component: () => import('./DataExportPage.vue'),
      meta: { title: '个人信息副本' },
    },
  ],
} satisfies Feature
