// Stations by city, loaded once per screen: the booking list names each appointment's station.
import { ok } from '@tms/api'
import { api } from '@/api'
import type { Station } from '@/features/vehicles/types'

export async function stationsOf(cities: Iterable<string>): Promise<Map<string, Station>> {
  const lists = await Promise.all(
    [...new Set(cities)].map((city_code) => ok(api.GET('/api/v1/inspection-stations', { params: { query: { city_code } } }))),
  )
  return new Map(lists.flat().map((s) => [s.id, s]))
}
