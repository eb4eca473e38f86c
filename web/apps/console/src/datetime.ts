// Times as a Chinese counter shows them: Beijing time, to the minute, whatever the browser's own zone.
const MINUTE = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
})

/** "2027-03-04 08:00" for an RFC 3339 time; "—" for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const parts = Object.fromEntries(MINUTE.formatToParts(new Date(iso)).map((p) => [p.type, p.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`
}
