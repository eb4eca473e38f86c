// Stored scans and photos (AR-01) are served only to the clerks entitled to them, so the browser cannot
// load them by address: each is fetched with the clerk's token and shown from an object URL, released
// when the page leaves.
import { onBeforeUnmount, ref, watch, type Ref } from 'vue'
import { ok } from '@tms/api'
import { api } from '@/api'

export type Loader = () => Promise<Blob>

/** The object URL of the document `key` names (its stored id): fetched again only when the key changes,
 * not whenever the page renders a new loader. */
export function useObjectUrl(key: Ref<string | null>, load: () => Loader) {
  const url = ref<string | null>(null)
  const failed = ref(false)
  function release(): void {
    if (url.value) URL.revokeObjectURL(url.value)
    url.value = null
  }
  watch(
    key,
    async (current) => {
      release()
      failed.value = false
      if (!current) return
      try {
        url.value = URL.createObjectURL(await load()())
      } catch {
        failed.value = true
      }
    },
    { immediate: true },
  )
  onBeforeUnmount(release)
  return { url, failed }
}

export function registrationScan(caseId: string, kind: string): Loader {
  return () =>
    ok(api.GET('/api/v1/counter/registrations/{case_id}/scans/{kind}', {
      params: { path: { case_id: caseId, kind } },
      parseAs: 'blob',
    })) as Promise<Blob>
}

export function changeScan(changeId: string, kind: string): Loader {
  return () =>
    ok(api.GET('/api/v1/users/counter-changes/{change_id}/scans/{kind}', {
      params: { path: { change_id: changeId, kind } },
      parseAs: 'blob',
    })) as Promise<Blob>
}

export function licencePhoto(photoId: string): Loader {
  return () =>
    ok(api.GET('/api/v1/users/licence-photos/{photo_id}/content', {
      params: { path: { photo_id: photoId } },
      parseAs: 'blob',
    })) as Promise<Blob>
}

/** The file itself as the request body (the server types it by its bytes, not by this header). */
export function fileBody(file: File) {
  return {
    body: file as unknown as string,
    bodySerializer: (body: unknown) => body as Blob,
    headers: { 'content-type': file.type || 'application/octet-stream' },
  }
}
