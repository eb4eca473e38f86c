// Which post holds a case at each stage (identity's domain.READ_POST): a clerk reads a case, its scans
// too, only while it is at one of the clerk's posts (the archive post once filed; an admin always).
import { hasRole } from '@/api'
import type { StaffRole } from '@/feature'
import type { Stage } from './labels'

const READ_POST: Partial<Record<Stage, StaffRole>> = {
  intake: 'clerk.intake',
  review: 'clerk.review',
  archive: 'clerk.archive',
  filed: 'clerk.archive',
}

export function atMyPost(stage: Stage): boolean {
  const post = READ_POST[stage]
  return hasRole(post ? [post, 'clerk.admin'] : ['clerk.admin'])
}

/** The post whose work the stage is, for the one who acts (an admin reads, the post acts). */
export function actsAt(stage: Stage, post: StaffRole): boolean {
  return READ_POST[stage] === post && stage !== 'filed' && hasRole([post])
}
