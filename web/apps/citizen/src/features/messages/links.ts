// Where a message leads: the screen of the case it is about, when this app has one.
import type { RouteLocationRaw } from 'vue-router'

export function caseLink(caseId: string | null | undefined): { to: RouteLocationRaw; text: string } | null {
  if (!caseId) return null
  if (caseId.startsWith('inspection-booking')) return { to: { name: 'inspection-list' }, text: '查看我的检验预约' }
  if (caseId.startsWith('vehicle-application:')) {
    const id = caseId.slice('vehicle-application:'.length).split('@')[0]
    return { to: { name: 'vehicle-applications-detail', params: { id } }, text: '查看业务进度' }
  }
  return null
}
