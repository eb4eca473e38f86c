// Words and figures the segment pages share.
import type { Schema } from '@tms/api'

export type SegmentState = Schema<'SegmentOut'>['state']

export const SEGMENT_STATES: Record<SegmentState, { text: string; tag: 'info' | 'warning' | 'success' | 'danger' }> = {
  planned: { text: '待上级审批', tag: 'warning' },
  approved: { text: '已审批，待发布', tag: 'info' },
  published: { text: '已发布', tag: 'success' },
  closed: { text: '已停用', tag: 'danger' },
}

/** How many numbers a pattern holds, as plate-pool counts them (numbers.py): `#` a digit, `*` a letter
 * other than I and O, `&` either, anything else itself. 0 for a pattern it would refuse. */
export function patternSize(pattern: string): number {
  if (!/^[#*&0-9A-HJ-NP-Z]{5}$/.test(pattern)) return 0
  return [...pattern].reduce((total, c) => total * (c === '#' ? 10 : c === '*' ? 24 : c === '&' ? 34 : 1), 1)
}

export function segmentName(s: { prefix: string; first_number: string; last_number: string }): string {
  return `${s.first_number} – ${s.last_number}`
}

export const count = (n: number): string => n.toLocaleString('zh-CN')
