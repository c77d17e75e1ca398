/* The search page's query photo (or video clip): chosen in the file field, dropped anywhere on
   the page or pasted; checked (type, size) before it is sent, and previewed with the region
   canvas over it. A clip is searched by its whole frames: it has no region. */
import { humanSize } from "./format.js";

// Formats every browser shows: a file of one of these types that does not show is damaged
// or misnamed (a TIFF or a HEIC is only a format this browser lacks).
const SHOWN_TYPES = { "image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP", "image/bmp": "BMP" };

// `say` shows a message under the form; `region` is createRegion's (search-region.js);
// `onChosen` is called when a new photo is taken as the query.
export function createPhoto(form, say, region, onChosen = () => {}) {
  const $ = (id) => document.getElementById(id);
  const input = $("image");
  const dropzone = $("dropzone");
  const preview = $("preview");
  const img = $("preview-img");
  const video = $("preview-video");
  const canvas = $("roi-canvas");
  const previewName = $("preview-name");
  const regionHint = $("region-hint"); // "Drag on the photo...": no region on a clip
  const imageId = $("image-id");
  const maxBytes = Number(form.dataset.maxBytes) || Infinity;
  let objectUrl = null;
  let queryIsVideo = false; // a clip is searched by its whole frames: no region

  function showPreview(url, caption, isVideo = false, keepRegion = false) {
    if (objectUrl && objectUrl !== url) URL.revokeObjectURL(objectUrl);
    queryIsVideo = isVideo;
    img.hidden = isVideo;
    canvas.hidden = isVideo;
    if (regionHint) regionHint.hidden = isVideo;
    video.hidden = !isVideo;
    if (isVideo) {
      img.removeAttribute("src");
      video.src = url;
    } else {
      video.removeAttribute("src");
      img.src = url;
    }
    previewName.textContent = caption;
    preview.hidden = false;
    dropzone.classList.add("has-image");
    if (!keepRegion) region.set(null);
  }

  let refusal = ""; // why the last file chosen was not taken (said again at Search)
  let accepted = null; // the photo in the preview: a file refused after it leaves it the query

  function refuse(text) {
    refusal = text;
    say(text);
    if (accepted) {
      const transfer = new DataTransfer();
      transfer.items.add(accepted);
      input.files = transfer.files; // the file field holds what the preview shows
    } else {
      input.value = "";
    }
    return false;
  }

  // `restored`: a file the browser put back in the field (Back), its region typed with it kept.
  function useFile(file, restored = false) {
    say("");
    if (!file) return false;
    const isVideo = Boolean(file.type) && file.type.startsWith("video/");
    if (file.type && !file.type.startsWith("image/") && !isVideo) {
      return refuse(`“${file.name}” is not an image or a video (${file.type}). Choose a photo (JPEG, PNG, WebP…) or a short video clip.`);
    }
    if (file.size > maxBytes) {
      let size = humanSize(file.size);
      let limit = humanSize(maxBytes);
      if (size === limit) {  // "too large (32 MiB); the limit is 32 MiB": say the bytes
        size += `: ${file.size.toLocaleString("en-US")} bytes`;
        limit += ` (${maxBytes.toLocaleString("en-US")} bytes)`;
      }
      return refuse(`“${file.name}” is too large (${size}); the limit is ${limit}. Choose a smaller photo.`);
    }
    if (file.size === 0) {
      return refuse(`“${file.name}” is empty (0 bytes). Choose a photo.`);
    }
    refusal = "";
    accepted = file;
    if (input.files[0] !== file) {
      const transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files; // so that the form (and FormData) sends this file
    }
    imageId.value = ""; // an uploaded photo replaces a library image
    objectUrl = URL.createObjectURL(file);
    const what = isVideo ? " · a video: searched by its frames, whole" : "";
    showPreview(objectUrl, `${file.name} · ${humanSize(file.size)}${what}`, isVideo, restored);
    onChosen();
    return true;
  }

  input.addEventListener("change", () => useFile(input.files[0]));

  img.addEventListener("load", () => {
    img.alt = `Query image: ${previewName.textContent.split(" · ")[0] || "preview"}`;
    region.sizeCanvas();
  });
  img.addEventListener("error", () => {
    if (!img.getAttribute("src")) return;
    // No picture to draw a region on (a TIFF, a HEIC): no broken image, no canvas over it.
    img.hidden = true;
    canvas.hidden = true;
    region.set(null);
    const file = input.files[0];
    const name = file ? file.name : previewName.textContent.split(" · ")[0];
    const kind = file && SHOWN_TYPES[file.type];
    if (kind) {
      // every browser shows this format: the file itself is damaged, or misnamed
      say(`“${name}” cannot be shown: it may be damaged, or not really a ${kind} image. Choose another photo, or search with it anyway.`);
    } else {
      const typed = form.dataset.mode === "lookup" ? "" : " (a region can be typed in the Region box)";
      say(`This browser cannot show a preview of “${name}”; you can still search with it${typed}.`);
    }
  });

  // Drag and drop anywhere on the page; the drop zone lights up.
  ["dragenter", "dragover"].forEach((type) =>
    document.addEventListener(type, (event) => {
      if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropzone.classList.add("is-dragover");
    }),
  );
  document.addEventListener("dragleave", (event) => {
    if (event.relatedTarget === null) dropzone.classList.remove("is-dragover");
  });
  document.addEventListener("drop", (event) => {
    dropzone.classList.remove("is-dragover");
    if (!event.dataTransfer) return;
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) useFile(file);
    else say("Drop an image file (not a link or text).");
  });

  // Paste a file (a screenshot, a copied photo or clip): taken or refused as a drop is, in
  // the same words (a pasted video or PDF was ignored without a word).
  document.addEventListener("paste", (event) => {
    const items = Array.from((event.clipboardData && event.clipboardData.items) || []);
    const item = items.find((i) => i.kind === "file");
    if (!item) return; // ordinary text pastes into fields are left alone
    event.preventDefault();
    const blob = item.getAsFile();
    if (!blob) return say("Paste an image file (not a link or text).");
    if (blob.name && blob.name !== "image.png") return useFile(blob);
    const ext = (blob.type.split("/")[1] || "png").replace("jpeg", "jpg"); // a screenshot: no name
    useFile(new File([blob], `pasted.${ext}`, { type: blob.type }));
  });

  // A file the browser restored in the field (Back to a page it did not keep whole, Forward)
  // is the query: shown as if just chosen, so that Search sends what the page shows (the
  // form said "Choose a photo" and searched the hidden file).
  function showRestored() {
    const file = input.files[0];
    if (file && file !== accepted) useFile(file, true);
  }
  window.addEventListener("pageshow", showRestored);

  return {
    isVideo: () => queryIsVideo,
    refusal: () => refusal,
    isShown: () => !preview.hidden,
    // a library image loaded with ?from=ID, maybe a video's frame (the clip is searched),
    // already loaded before this script ran; a file the browser restored in the field
    start() {
      if (img.dataset.video) {
        queryIsVideo = true; // a library video (?from=ID): its frame is shown, the clip is searched
        canvas.hidden = true;
      }
      if (img.complete && img.naturalWidth) region.sizeCanvas();
      showRestored();
    },
  };
}
