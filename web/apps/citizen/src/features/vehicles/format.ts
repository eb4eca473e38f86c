// What the vehicle screens show for the platform's words, and its times in Beijing time whatever the
// device's zone (the API answers some times in UTC).
const ZONE = 'Asia/Shanghai'

export const VEHICLE_STATES: Record<string, string> = {
  registered: '正常',
  transferred_out: '已转出',
  deregistered: '已注销',
  force_deregistered: '强制注销',
}

export const VEHICLE_FLAGS: Record<string, string> = {
  stolen: '被盗抢',
  suspended: '停驶',
  suspect: '嫌疑',
  detained: '扣留',
  seized: '暂扣',
  hit_and_run: '事故逃逸',
  locked: '锁定',
}

export const VEHICLE_KINDS: Record<string, string> = {
  small_car: '小型汽车',
  large_car: '大型汽车',
  motorcycle: '摩托车',
  trailer: '挂车',
}

export const PLATE_KINDS: Record<string, string> = {
  '01': '大型汽车号牌',
  '02': '小型汽车号牌',
  '07': '两、三轮摩托车号牌',
  '15': '挂车号牌',
  '16': '教练汽车号牌',
  '51': '大型新能源汽车号牌',
  '52': '小型新能源汽车号牌',
}

export const USES: Record<string, string> = { commercial: '营运', non_commercial: '非营运' }

export function label(words: Record<string, string>, key: string | null | undefined): string {
  if (!key) return '—'
  return words[key] ?? key
}

/** The vehicle's state and police markers as one phrase: 正常, or 正常（暂扣、锁定）. */
export function vehicleCondition(state: string, flags: readonly string[]): string {
  const base = label(VEHICLE_STATES, state)
  return flags.length ? `${base}（${flags.map((f) => label(VEHICLE_FLAGS, f)).join('、')}）` : base
}

/** A vehicle that can take online business: registered and without markers. */
export function vehicleIsNormal(state: string, flags: readonly string[]): boolean {
  return state === 'registered' && flags.length === 0
}

const dateTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
})
const timeOnly = new Intl.DateTimeFormat('zh-CN', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', hour12: false })

export function fmtDateTime(value: string | null | undefined): string {
  return value ? dateTime.format(new Date(value)).replace(/\//g, '-') : '—'
}

export function fmtTime(value: string): string {
  return timeOnly.format(new Date(value))
}

/** 2027-03-08 → 2027年3月8日 */
export function fmtDay(day: string | null | undefined): string {
  if (!day) return '—'
  const [y, m, d] = day.split('-').map(Number)
  return `${y}年${m}月${d}日`
}

const WEEKDAYS = ['日', '一', '二', '三', '四', '五', '六']

/** 2027-03-08 → 3月8日 星期一 */
export function fmtDayWithWeekday(day: string): string {
  const [y, m, d] = day.split('-').map(Number)
  return `${m}月${d}日 星期${WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]}`
}

/** Today in Beijing as YYYY-MM-DD. */
export function todayInBeijing(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(new Date())
}

/** The city (地市) of an office or station: the first four digits of the division code, then 00. */
export function cityOf(code: string): string {
  return code.slice(0, 4) + '00'
}

/** Vant's grey tag (#969799) is below AA contrast with white; a grey tag is drawn in this one. */
export const MUTED = '#4b5563'

export function tagColor(type: string | undefined): string | undefined {
  return type === undefined || type === 'default' ? MUTED : undefined
}
