// Plate pre-selection (预选机动车号牌, seed 000; rules PP-01..PP-11): the shapes, words and timers the
// screens share. Every deadline the API answers is a platform time; the countdowns run on the platform's
// clock (GET …/server-time), not the phone's, which may be wrong (and in dev and test is days away).
import { onBeforeUnmount, ref, watch, type Ref } from 'vue'
import { ok, type Schema } from '@tms/api'
import { api } from '@/api'
import './plates.css'

export type Selection = Schema<'PlateSelectionDetailOut'>
export type SelectionState = Schema<'PlateSelectionOut'>['state']
export type Segment = Schema<'SegmentOut'>
export type OfficeSettings = Schema<'OfficeSettingsOut'>
export type Office = Schema<'PlateOfficeOut'>
export type Queued = Schema<'PlateDrawQueuedOut'>
export type Appeal = Schema<'AppealOut'>

export const STATE_LABEL: Record<SelectionState, string> = {
  selecting: '选号中',
  session_expired: '本次选号已结束',
  awaiting_sms: '待短信确认',
  selected: '预选成功',
  registered: '已注册登记',
  exhausted: '选号机会已用完',
  abandoned: '已放弃',
  cancelled: '已作废',
}

/** Vant tag types by state: what is done is green, what waits for the person is orange. */
export const STATE_TAG: Record<SelectionState, 'primary' | 'success' | 'warning' | 'danger' | 'default'> = {
  selecting: 'primary',
  session_expired: 'warning',
  awaiting_sms: 'warning',
  selected: 'success',
  registered: 'success',
  exhausted: 'danger',
  abandoned: 'default',
  cancelled: 'danger',
}

/** PP-11: the outcomes a person may appeal (domain.lifecycle.APPEALABLE). */
export const APPEALABLE: SelectionState[] = ['cancelled', 'exhausted', 'abandoned', 'session_expired']

export const CANCEL_REASON: Record<string, string> = {
  not_registered_in_time: '未在规定的 3 个工作日内办理注册登记',
  registration_mismatch: '注册登记时提交的车辆识别代号、所有人身份证明或手机号码与预选时填写的不一致',
}

export const APPEAL_STATE: Record<Appeal['state'], string> = { filed: '待审核', upheld: '申诉成立', rejected: '申诉不成立' }
export const APPEAL_REMEDY: Record<NonNullable<Appeal['remedy']>, string> = {
  restore_chances: '已恢复选号机会，可重新进入选号',
  restore_number: '已恢复所选号牌，请在新的期限内办理注册登记',
}

// --- the platform's clock ---------------------------------------------------------------------------

let offsetMs = 0

/** Measure the phone's clock against the platform's (half the round trip counted as the way back). */
export async function syncServerTime(): Promise<void> {
  const sent = Date.now()
  const { now } = await ok(api.GET('/api/v1/plate-selections/server-time'))
  const received = Date.now()
  offsetMs = Date.parse(now) - (sent + received) / 2
}

export function serverNow(): number {
  return Date.now() + offsetMs
}

/** Seconds left until `deadline` (an RFC 3339 platform time) on the platform's clock; null without one.
 * `onEnd` runs once each time a deadline is reached. */
export function useCountdown(deadline: () => string | null | undefined, onEnd?: () => void): Ref<number | null> {
  const left = ref<number | null>(null)
  let ended = false
  function tick(): void {
    const at = deadline()
    if (!at) {
      left.value = null
      return
    }
    const seconds = Math.max(0, Math.ceil((Date.parse(at) - serverNow()) / 1000))
    left.value = seconds
    if (seconds === 0 && !ended) {
      ended = true
      onEnd?.()
    } else if (seconds > 0) {
      ended = false
    }
  }
  tick()
  const timer = window.setInterval(tick, 1000)
  watch(deadline, tick)
  onBeforeUnmount(() => window.clearInterval(timer))
  return left
}

/** 2:59, or 1:05:00 past an hour. */
export function clockText(seconds: number | null): string {
  if (seconds === null) return '—'
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = String(seconds % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

/** Spoken form for screen readers: 2 分 59 秒. */
export function clockSpoken(seconds: number | null): string {
  if (seconds === null) return ''
  const m = Math.floor(seconds / 60)
  return m > 0 ? `${m} 分 ${seconds % 60} 秒` : `${seconds} 秒`
}

const DATE_TIME = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: 'long',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
})

/** A platform time as people read it in Beijing time: 2026年11月5日 17:00. */
export function when(iso: string | null | undefined): string {
  return iso ? DATE_TIME.format(new Date(iso)).replace(/\s/g, ' ') : '—'
}

// --- reads several screens share ------------------------------------------------------------------

export async function loadOffices(): Promise<Office[]> {
  return (await ok(api.GET('/api/v1/plate-segments/offices'))).items
}

export async function loadSegments(officeCode?: string): Promise<Segment[]> {
  const query = officeCode ? { office_code: officeCode } : {}
  return (await ok(api.GET('/api/v1/plate-segments', { params: { query } }))).items
}

export async function loadSettings(officeCode: string): Promise<OfficeSettings> {
  return ok(
    api.GET('/api/v1/plate-segments/offices/{office_code}/settings', { params: { path: { office_code: officeCode } } }),
  )
}

/** The segments a person may select from right now: published and opened (on the platform's clock). */
export function openSegments(segments: Segment[]): Segment[] {
  return segments.filter((s) => s.state === 'published' && Date.parse(s.opens_at) <= serverNow())
}

const CLASS_WORD: Record<string, string> = { '#': '数字', '*': '字母', '&': '数字或字母' }

/** PP-10: a custom pattern in words, runs counted: `*####` is 1 位字母 + 4 位数字 (letters never I or O). */
export function patternText(pattern: string): string {
  const runs: string[] = []
  for (const match of pattern.matchAll(/([#*&])\1*|[^#*&]+/g)) {
    const run = match[0]
    runs.push(CLASS_WORD[run[0]] ? `${run.length} 位${CLASS_WORD[run[0]]}` : run)
  }
  return runs.join(' + ')
}

export function patternExample(pattern: string): string {
  return [...pattern].map((c) => (c === '#' ? '8' : c === '*' ? 'K' : c === '&' ? '6' : c)).join('')
}

/** PP-08: the certificate PDF (with its QR code the counter checks), saved under the plate's name. */
export async function downloadCertificate(selection: Selection): Promise<void> {
  const { data } = await api.GET('/api/v1/plate-selections/{selection_id}/certificate', {
    params: { path: { selection_id: selection.id } },
    parseAs: 'blob',
  })
  const url = URL.createObjectURL(data as Blob)
  const link = document.createElement('a')
  link.href = url
  link.download = `预选号凭证-${selection.plate_number ?? selection.id}.pdf`
  document.body.append(link)
  link.click()
  link.remove()
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
