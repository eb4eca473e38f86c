// What the counter posts' screens call things: stages, scans and originals in the words of the counter
// (ID-09 to ID-11, ID-13), and times as a clerk reads them.
import type { Schema } from '@tms/api'

export type Post = 'intake' | 'review' | 'archive'
export type Case = Schema<'CaseOut'>
export type CaseRow = Schema<'CaseSummary'>
export type Change = Schema<'ChangeOut'>
export type Scan = Schema<'ScanOut'>
export type Stage = Case['stage']

export const POST_TITLE: Record<Post, string> = { intake: '受理岗', review: '审核岗', archive: '档案岗' }

export const STAGE: Record<Stage, string> = {
  intake: '待受理',
  review: '待审核',
  archive: '待归档',
  filed: '已归档',
  approved: '已通过',
  rejected: '不予通过',
}

export const CATEGORY: Record<Case['category'], string> = { personal: '个人用户', unit: '单位用户' }

export const USER_KIND: Record<string, string> = {
  owner_driver: '机动车所有人、驾驶人',
  learner: '初次申领驾驶证的学员',
  new_car_owner: '新车车主',
}

export const CHANGE_KIND: Record<Change['kind'], string> = {
  bind_vehicle: '绑定机动车',
  details: '变更联系方式',
}

export const SCAN: Record<string, string> = {
  onsite_photo: '现场照片',
  registration_form: '注册申请表',
  identity_document: '身份证明',
  organisation_certificate: '单位证明',
  power_of_attorney: '委托书',
  agent_identity_document: '经办人身份证明',
  owner_identity_document: '机动车所有人身份证明',
  vehicle_licence: '机动车行驶证',
}

/** ID-09 / ID-11: the scans intake stores with a registration before submitting it. */
export const REGISTRATION_SCANS: Record<Case['category'], string[]> = {
  personal: ['onsite_photo', 'registration_form', 'identity_document'],
  unit: ['onsite_photo', 'registration_form', 'organisation_certificate', 'power_of_attorney', 'agent_identity_document'],
}

/** ID-13: a change's scans; binding someone else's vehicle also needs the owner's documents. */
export const CHANGE_SCANS = ['onsite_photo', 'registration_form', 'identity_document']
export const OWNER_DOCUMENT_SCANS = ['owner_identity_document', 'vehicle_licence']

/** ID-09 / ID-11: the originals the archive post binds and files. */
export const ORIGINALS: Record<Case['category'], { value: string; label: string }[]> = {
  personal: [
    { value: 'registration_form_original', label: '注册申请表原件' },
    { value: 'identity_document_copy', label: '身份证明复印件' },
  ],
  unit: [
    { value: 'registration_form_original', label: '注册申请表原件' },
    { value: 'organisation_certificate_copy', label: '单位证明复印件' },
    { value: 'power_of_attorney_original', label: '委托书原件' },
    { value: 'agent_identity_document_copy', label: '经办人身份证明复印件' },
  ],
}

export const REGISTRY_CHECK: Record<string, string> = {
  passed: '人口信息核查通过',
  pending: '人口信息系统暂不可达，审核时将重新核查',
}

const FORMAT = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
})

export function when(iso: string | null | undefined): string {
  return iso ? FORMAT.format(new Date(iso)) : '—'
}

export function scanLabel(kind: string): string {
  return SCAN[kind] ?? kind
}
