// The words of a pre-selection and its appeal, as the deciding clerk reads them.
import type { Schema } from '@tms/api'

export type AppealState = Schema<'AppealOut'>['state']
export type Remedy = NonNullable<Schema<'AppealOut'>['remedy']>

export const APPEAL_STATES: Record<AppealState, { text: string; tag: 'warning' | 'success' | 'info' }> = {
  filed: { text: '待处理', tag: 'warning' },
  upheld: { text: '已支持', tag: 'success' },
  rejected: { text: '已驳回', tag: 'info' },
}

export const REMEDIES: Record<Remedy, string> = {
  restore_chances: '恢复选号机会',
  restore_number: '恢复原预选号码',
}

/** plate-pool's selection states (domain/lifecycle.py). */
export const SELECTION_STATES: Record<string, string> = {
  selecting: '选号中',
  session_expired: '选号时段已结束',
  awaiting_sms: '待短信确认',
  selected: '已选定，待登记',
  registered: '已登记上牌',
  exhausted: '选号机会已用完',
  abandoned: '已放弃',
  cancelled: '已作废',
}

export const CANCEL_REASONS: Record<string, string> = {
  not_registered_in_time: '未在规定工作日内登记',
  registration_mismatch: '登记信息与预选信息不符',
  abandoned: '本人放弃',
  appeal_decided: '申诉处理',
}
