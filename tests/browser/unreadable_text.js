() => {
  // Text a person cannot read in full: beyond the screen's sides, spilling out of a box around it (a
  // scrolling box may hold text below its fold, not beside it), cut off by a box that hides overflow, or
  // set on a line shorter than its letters.
  const problems = []
  const name = (el) => {
    const cls = typeof el.className === 'string' ? el.className.trim().split(/\s+/)[0] : ''
    return el.tagName.toLowerCase() + (cls ? '.' + cls : '')
  }
  const px = (v) => Math.round(v)
  for (const el of document.body.querySelectorAll('*')) {
    const text = [...el.childNodes]
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent.trim())
      .join('')
    const style = getComputedStyle(el)
    if (!text || style.visibility === 'hidden' || el.closest('[aria-hidden="true"]')) continue
    const r = el.getBoundingClientRect()
    if (r.width <= 1 || r.height <= 1) continue // not shown, or text for screen readers only
    const what = `${name(el)} "${text.slice(0, 24)}"`
    const lineHeight = parseFloat(style.lineHeight)
    const fontSize = parseFloat(style.fontSize)
    if (lineHeight < 0.95 * fontSize) {
      problems.push(`${what}: ${px(fontSize)} px letters on a ${px(lineHeight)} px line`)
    }
    if (r.left < -1 || r.right > window.innerWidth + 1) {
      problems.push(`${what}: beyond the screen's sides (${px(r.left)}..${px(r.right)} of ${window.innerWidth})`)
      continue
    }
    for (let box = el; box && box !== document.body; box = box.parentElement) {
      const s = getComputedStyle(box)
      if (/(hidden|clip)/.test(s.overflowY) && box.scrollHeight > box.clientHeight + 1) {
        problems.push(`${what}: cut off by ${name(box)} (${box.scrollHeight} px of text in ${box.clientHeight})`)
        break
      }
      if (box === el) continue
      const b = box.getBoundingClientRect()
      const sideways = r.left < b.left - 1 || r.right > b.right + 1
      const below = !/(auto|scroll)/.test(s.overflowY) && (r.top < b.top - 1 || r.bottom > b.bottom + 1)
      if (sideways || below) {
        problems.push(`${what}: spills out of ${name(box)} (${px(r.left)},${px(r.top)}-${px(r.right)},${px(r.bottom)} in ${px(b.left)},${px(b.top)}-${px(b.right)},${px(b.bottom)})`)
        break
      }
    }
  }
  return problems
}
