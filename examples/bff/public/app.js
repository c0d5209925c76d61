// Lists the sample videos; choosing one asks the BFF for its embed URLs and shows them in the two frames.
const list = document.getElementById('videos')
const status = document.getElementById('status')

async function show (video) {
  status.textContent = `Loading ${video.title}…`
  const response = await fetch(`/api/videos/${encodeURIComponent(video.id)}/embed`)
  const body = await response.json()
  if (!response.ok) {
    status.textContent = `Cannot show ${video.title}: ${body.error.code}`
    return
  }
  document.getElementById('title').textContent = video.title
  document.getElementById('player').src = body.player
  document.getElementById('insights').src = body.insights
  document.getElementById('widgets').hidden = false
  status.textContent = ''
}

const { videos } = await (await fetch('/api/videos')).json()
for (const video of videos) {
  const button = document.createElement('button')
  button.type = 'button'
  button.dataset.videoId = video.id
  button.textContent = video.title
  button.addEventListener('click', () => void show(video))
  list.append(button)
}
