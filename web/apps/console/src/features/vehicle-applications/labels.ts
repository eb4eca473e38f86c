// The words of the office's steps on a reissue or replacement (VH-02..VH-10).
import type { Schema } from '@tms/api'

export type Application = Schema<'ApplicationOut'>

export const ITEM: Record<string, string> = { plate: '号牌', licence: '行驶证', mark: '检验合格标志' }
export const KIND: Record<string, string> = { reissue: '补领', replace: '换领' }
export const DELIVERY: Record<string, string> = { mail: '邮寄', pickup: '窗口领取' }
export const STATE: Record<string, string> = {
  draft: '草稿',
  submitted: '待受理',
  accepted: '已受理，待制作',
  rejected: '不予受理',
  produced: '已制作，待交付',
  mailed: '已交邮寄',
  ready: '待领取',
  delivered: '已签收',
  picked_up: '已领取',
  refused: '邮件拒收',
  not_collected: '逾期未领取',
  withdrawn: '已退办',
}

export function title(a: Application): string {
  return `${a.plate_number} ${KIND[a.kind] ?? a.kind}${ITEM[a.item] ?? a.item}`
}

/** VH-10: what the archive post may still do to a case. */
export function archiveWork(a: Application): ('file' | 'destroy_returned' | 'settle')[] {
  const work: ('file' | 'destroy_returned' | 'settle')[] = []
  if (!a.archived && !['draft', 'submitted', 'rejected', 'withdrawn'].includes(a.state)) work.push('file')
  if (a.returned_item_received && !a.returned_item_destroyed) work.push('destroy_returned')
  if (['refused', 'not_collected'].includes(a.state) && !(a.archived && a.core_number_restored)) work.push('settle')
  return work
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
