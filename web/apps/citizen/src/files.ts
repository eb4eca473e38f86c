// Files the platform hands over (PDFs): the API answers them only with the bearer token, so a plain link
// cannot fetch them; the API client fetches the blob and the browser saves it under its own name.
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.append(link)
  link.click()
  link.remove()
  // the download has taken the bytes by then; revoking at once can cancel it in some browsers
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000)
}
