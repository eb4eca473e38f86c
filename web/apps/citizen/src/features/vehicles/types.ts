// The shapes of the answers this app's vehicle screens read, taken from the API's paths (not from schema
// names, which the merged document may prefix when two services name a model alike).
import type { paths } from '@tms/api'

type Json<R> = R extends { content: { 'application/json': infer T } } ? T : never
type Answer<Op> = Op extends { responses: infer Rs }
  ? Rs extends { 200: infer R }
    ? Json<R>
    : Rs extends { 201: infer R }
      ? Json<R>
      : never
  : never

export type GetOk<P extends keyof paths> = paths[P] extends { get: infer Op } ? Answer<Op> : never
export type PostOk<P extends keyof paths> = paths[P] extends { post: infer Op } ? Answer<Op> : never

export type Vehicle = GetOk<'/api/v1/vehicles/{vehicle_id}'>
export type Binding = GetOk<'/api/v1/users/me/bindings'>['items'][number]
export type Licence = GetOk<'/api/v1/licences/mine'>
export type Station = GetOk<'/api/v1/inspection-stations'>[number]
export type Slot = GetOk<'/api/v1/inspection-slots'>[number]
export type Booking = GetOk<'/api/v1/inspection-bookings'>[number]
export type Application = GetOk<'/api/v1/vehicle-applications/{application_id}'>
export type Message = GetOk<'/api/v1/messages/{message_id}'>
