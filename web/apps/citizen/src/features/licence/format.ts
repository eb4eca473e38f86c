// How the licence and exam screens write dates, states and subjects, in plain Chinese.

const TIME = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
})

/** 2026-11-20 18:42, in Beijing time whatever the phone's zone. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—'
  const parts = Object.fromEntries(TIME.formatToParts(new Date(iso)).map((p) => [p.type, p.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`
}

/** Days from today (Beijing) to a calendar date `YYYY-MM-DD`; negative once past. */
export function daysUntil(day: string): number {
  const today = when(new Date().toISOString()).slice(0, 10)
  return Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000)
}

type Tag = { text: string; type: 'primary' | 'success' | 'danger' | 'warning' }

export const LICENCE_STATE: Record<string, Tag> = {
  valid: { text: '正常', type: 'success' },
  full_points: { text: '满分', type: 'danger' },
  suspended: { text: '暂扣', type: 'danger' },
  revoked: { text: '吊销', type: 'danger' },
  cancelled: { text: '注销', type: 'danger' },
}

export const APPLICATION_KIND: Record<string, string> = {
  reissue: '遗失补领驾驶证',
  replace: '损毁换领驾驶证',
  defer_renewal: '延期换证',
  defer_medical: '延期提交身体条件证明',
  defer_review: '延期审验',
  renew: '期满换领驾驶证',
  over_age: '超龄换领驾驶证',
}

export const APPLICATION_STATE: Record<string, Tag> = {
  awaiting_medical: { text: '等待体检信息', type: 'warning' },
  submitted: { text: '待受理', type: 'primary' },
  rejected: { text: '不予受理', type: 'danger' },
  approved: { text: '已批准', type: 'success' },
  accepted: { text: '已受理', type: 'primary' },
  produced: { text: '已制证', type: 'primary' },
  mailed: { text: '已邮寄', type: 'primary' },
  ready: { text: '待领取', type: 'warning' },
  delivered: { text: '已签收', type: 'success' },
  picked_up: { text: '已领取', type: 'success' },
  refused: { text: '拒收', type: 'danger' },
  not_collected: { text: '逾期未领取', type: 'danger' },
  archived: { text: '已办结', type: 'success' },
}

export const SUBJECT: Record<number, string> = {
  1: '科目一（道路交通安全法律、法规和相关知识）',
  2: '科目二（场地驾驶技能）',
  3: '科目三（道路驾驶技能）',
  4: '科目三（安全文明驾驶常识）',
}
export const SUBJECT_SHORT: Record<number, string> = { 1: '科目一', 2: '科目二', 3: '科目三', 4: '安全文明驾驶常识' }

export const BOOKING_STATE: Record<string, Tag> = {
  requested: { text: '待排序', type: 'warning' },
  seated: { text: '预约成功', type: 'success' },
  not_seated: { text: '未排上', type: 'danger' },
  withdrawn: { text: '已撤销', type: 'primary' },
  cancelled: { text: '已取消', type: 'primary' },
  passed: { text: '合格', type: 'success' },
  failed: { text: '不合格', type: 'danger' },
  absent: { text: '缺考', type: 'danger' },
}

export function tagOf(table: Record<string, Tag>, key: string): Tag {
  return table[key] ?? { text: key, type: 'primary' }
}
