// The person's own vehicles (vehicle service) beside what the account has bound (identity): the screens
// that bind, show or book need both, and a vehicle is usable online only once bound (ADR 0044).
import { ok } from '@tms/api'
import { api } from '@/api'
import type { Binding, Vehicle } from './types'

export interface MyVehicle {
  vehicle: Vehicle
  /** the account's live binding of this vehicle, if it has one */
  binding: Binding | null
}

export interface MyRecords {
  vehicles: MyVehicle[]
  /** vehicles bound to the account that are not its own (bound at a counter, ID-13) */
  others: Binding[]
  bindings: Binding[]
}

const MAX_PAGES = 10

export async function loadOwnVehicles(): Promise<Vehicle[]> {
  const all: Vehicle[] = []
  let cursor: string | undefined
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const answer = await ok(api.GET('/api/v1/vehicles', { params: { query: { limit: 100, cursor } } }))
    all.push(...answer.items)
    if (!answer.next_cursor) break
    cursor = answer.next_cursor
  }
  return all
}

export async function loadBindings(): Promise<Binding[]> {
  return (await ok(api.GET('/api/v1/users/me/bindings'))).items
}

export async function loadMyRecords(): Promise<MyRecords> {
  const [own, bindings] = await Promise.all([loadOwnVehicles(), loadBindings()])
  const vehicleBindings = bindings.filter((b) => b.record_kind === 'vehicle')
  const ownIds = new Set(own.map((v) => v.id))
  return {
    vehicles: own.map((vehicle) => ({ vehicle, binding: vehicleBindings.find((b) => b.ref === vehicle.id) ?? null })),
    others: vehicleBindings.filter((b) => !ownIds.has(b.ref)),
    bindings,
  }
}

/** VH-13 (ADR 0041): appointments open 3 months before the inspection's validity ends. */
export function inspectionWindowOpens(validUntil: string): string {
  const [y, m, d] = validUntil.split('-').map(Number)
  const month = m - 3
  const year = month <= 0 ? y - 1 : y
  const realMonth = month <= 0 ? month + 12 : month
  const last = new Date(Date.UTC(year, realMonth, 0)).getUTCDate()
  return `${year}-${String(realMonth).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`
}
