import type { Feature } from '@/feature'

// DL-01..DL-12: the holder's licence, its points and applications; DL-11: a learner's exam bookings.
export default {
  routes: [
    { path: '/licence', name: 'licence', component: () => import('./LicencePage.vue'), meta: { title: '我的驾驶证' } },
    { path: '/licence/points', name: 'licence-points', component: () => import('./PointsPage.vue'), meta: { title: '记分查询' } },
    { path: '/licence/applications', name: 'licence-applications', component: () => import('./ApplicationListPage.vue'), meta: { title: '驾驶证业务' } },
    { path: '/licence/applications/new', name: 'licence-apply', component: () => import('./ApplyPage.vue'), meta: { title: '申请驾驶证业务' } },
    { path: '/licence/applications/:id', name: 'licence-application', component: () => import('./ApplicationPage.vue'), props: true, meta: { title: '业务详情' } },
    { path: '/exams', name: 'licence-exams', component: () => import('./ExamsPage.vue'), meta: { title: '考试预约' } },
    { path: '/exams/book', name: 'licence-exam-book', component: () => import('./ExamBookPage.vue'), meta: { title: '预约考试' } },
    { path: '/exams/bookings/:id', name: 'licence-exam-booking', component: () => import('./BookingPage.vue'), props: true, meta: { title: '预约详情' } },
  ],
  tiles: [
    { title: '我的驾驶证', icon: 'idcard', to: '/licence', capability: 'query_licence', order: 30 },
    { title: '考试预约', icon: 'calendar-o', to: '/exams', capability: 'exam_appointment', order: 50 },
  ],
} satisfies Feature
