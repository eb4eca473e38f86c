// The office's steps on reissues and replacements of plates, vehicle licences and inspection marks
// (VH-09 intake, production and hand-off; VH-10 the archive post).
import type { Feature } from '@/feature'

export default {
  routes: [
    { path: 'vehicle-applications', name: 'vehicle-applications', component: () => import('./ApplicationsPage.vue'), meta: { title: '机动车补换领' } },
    { path: 'vehicle-applications/:id', name: 'vehicle-applications-case', component: () => import('./ApplicationPage.vue'), props: true, meta: { title: '补换领案件' } },
  ],
  menu: [{ title: '机动车补换领', to: '/vehicle-applications', group: '业务受理', roles: ['clerk.intake', 'clerk.archive'], order: 20 }],
} satisfies Feature
