// ID-12: binding and unbinding one's own vehicle or licence, with the confirmation an unbinding needs.
import { showConfirmDialog, showSuccessToast } from 'vant'
import { ok } from '@tms/api'
import { api } from '@/api'
import type { Binding } from '@/features/vehicles/types'

export async function bindRecord(recordKind: 'vehicle' | 'licence', ref: string): Promise<Binding> {
  const bound = await ok(api.POST('/api/v1/users/me/bindings', { body: { record_kind: recordKind, ref } }))
  showSuccessToast('绑定成功')
  return bound
}

/** Asks first; false when the person changed their mind. */
export async function confirmUnbind(what: string, consequence: string): Promise<boolean> {
  try {
    await showConfirmDialog({ title: `解绑${what}`, message: `确定解绑${what}吗？${consequence}`, confirmButtonText: '解绑' })
    return true
  } catch {
    return false
  }
}

export async function unbindRecord(binding: Binding): Promise<void> {
  await api.DELETE('/api/v1/users/me/bindings/{binding_id}', { params: { path: { binding_id: binding.id } } })
  showSuccessToast('已解绑')
}
