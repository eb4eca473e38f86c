// The counter posts (ID-09 to ID-11, ID-13, ID-15): the intake, review and archive queues, the case pages
// of counter registrations and personal changes, and the review post's licence photos.
import type { Feature } from '@/feature'

const queue = (post: 'intake' | 'review' | 'archive', title: string) => ({
  path: `queues/${post}`,
  name: `counter-queue-${post}`,
  component: () => import('./QueuePage.vue'),
  props: { post },
  meta: { title },
})

export default {
  routes: [
    queue('intake', '受理岗'),
    queue('review', '审核岗'),
    queue('archive', '档案岗'),
    { path: 'registrations/new', name: 'counter-registration-new', component: () => import('./RegistrationNewPage.vue'), meta: { title: '新建柜台注册' } },
    { path: 'registrations/:id', name: 'counter-registration', component: () => import('./RegistrationPage.vue'), props: true, meta: { title: '柜台注册案件' } },
    { path: 'counter-changes/new', name: 'counter-change-new', component: () => import('./ChangeNewPage.vue'), meta: { title: '新建个人业务变更' } },
    { path: 'counter-changes/:id', name: 'counter-change', component: () => import('./ChangePage.vue'), props: true, meta: { title: '个人业务变更' } },
    { path: 'licence-photos', name: 'counter-photos', component: () => import('./PhotoReviewPage.vue'), meta: { title: '驾驶证照片审核' } },
  ],
  menu: [
    { title: '受理岗', to: '/queues/intake', group: '业务受理', roles: ['clerk.intake'], order: 10 },
    { title: '审核岗', to: '/queues/review', group: '业务受理', roles: ['clerk.review'], order: 11 },
    { title: '档案岗', to: '/queues/archive', group: '业务受理', roles: ['clerk.archive'], order: 12 },
    { title: '驾驶证照片审核', to: '/licence-photos', group: '业务受理', roles: ['clerk.review'], order: 13 },
  ],
} satisfies Feature
