// VH-02..VH-10: an application's words, and its progress as the applicant follows it.
import type { Application } from '@/features/vehicles/types'

export const ITEMS: Record<string, string> = { plate: '机动车号牌', licence: '机动车行驶证', mark: '检验合格标志' }
export const KINDS: Record<string, string> = { reissue: '补领', replace: '换领' }
export const DELIVERY: Record<string, string> = { mail: '邮寄', pickup: '到车管所领取' }

type TagType = 'primary' | 'success' | 'warning' | 'danger' | 'default'

export const STATES: Record<string, { text: string; type: TagType }> = {
  draft: { text: '待提交', type: 'warning' },
  submitted: { text: '待受理', type: 'primary' },
  accepted: { text: '已受理', type: 'primary' },
  rejected: { text: '不予受理', type: 'danger' },
  produced: { text: '制作完成', type: 'primary' },
  mailed: { text: '已邮寄', type: 'primary' },
  delivered: { text: '已签收', type: 'success' },
  refused: { text: '拒收', type: 'danger' },
  ready: { text: '待领取', type: 'warning' },
  picked_up: { text: '已领取', type: 'success' },
  not_collected: { text: '逾期未领取', type: 'danger' },
  withdrawn: { text: '已退办', type: 'default' },
}

/** States after which nothing more happens that the applicant waits for. */
export const FINAL = new Set(['rejected', 'delivered', 'refused', 'picked_up', 'not_collected', 'withdrawn'])

export function title(a: Application): string {
  return `${KINDS[a.kind] ?? a.kind}${ITEMS[a.item] ?? a.item}`
}

export interface Step {
  title: string
  detail?: string
}

/** The road of the application from submission to delivery or pickup, and how far it has come. */
export function progress(a: Application): { steps: Step[]; reached: number } {
  const mail = a.delivery === 'mail'
  const steps: Step[] = [
    { title: '提交申请' },
    { title: '车管所受理', detail: '车管所在 1 个工作日内受理' },
    { title: '制作完成' },
    mail
      ? { title: '交寄邮政', detail: a.tracking_number ? `邮件号 ${a.tracking_number}` : undefined }
      : { title: '可以领取', detail: '请在 1 个月内持身份证明到车管所领取' },
    { title: mail ? '签收' : '已领取' },
  ]
  const order: Record<string, number> = {
    draft: 0,
    submitted: 1,
    accepted: 2,
    rejected: 1,
    produced: 3,
    mailed: 4,
    ready: 4,
    refused: 4,
    not_collected: 4,
    delivered: 5,
    picked_up: 5,
    withdrawn: 4,
  }
  return { steps, reached: order[a.state] ?? 0 }
}

/** What went wrong, in the applicant's words: a refusal's reason and its consequence (VH-07). */
export function problem(a: Application): string | null {
  switch (a.state) {
    case 'rejected':
      return `车管所不予受理${a.refusal_reason ? `，原因：${a.refusal_reason}` : ''}。`
    case 'refused':
      return '邮件投递时被拒收。自拒收之日起一年内，不能通过互联网申请补领、换领号牌、行驶证、检验合格标志和驾驶证（VH-07）。'
    case 'not_collected':
      return '超过 1 个月未领取。一年内不能通过互联网申请补领、换领号牌、行驶证、检验合格标志和驾驶证（VH-07）。'
    case 'withdrawn':
      return '投递失败或逾期未领取，业务已退办（VH-10）。'
    default:
      return null
  }
}
