// The words of stations and plans (VH-14).
export const STATION_STATES: Record<string, { text: string; tag: 'success' | 'warning' | 'danger' }> = {
  open: { text: '正常服务', tag: 'success' },
  suspended: { text: '暂停服务', tag: 'warning' },
  closed: { text: '已停止服务', tag: 'danger' },
}

/** The vehicle kinds vehicle's records use (vehicles.vehicle_kind). */
export const VEHICLE_KINDS: Record<string, string> = { small_car: '小型汽车', large_car: '大型汽车' }
export const BRAKE_KINDS: Record<string, string> = { hydraulic: '液压制动', pneumatic: '气压制动' }

export const kinds = (values: string[], words: Record<string, string>): string =>
  values.length ? values.map((v) => words[v] ?? v).join('、') : '—'
