package api

import (
	"net/http"
	"net/url"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// ImageList is the answer to GET /v1/images (the Go client's wire type).
type ImageList = client.ImageList

// NewImage is the body of POST /v1/images (the Go client's wire type).
type NewImage = client.NewImage

// addImage answers POST /v1/images: 201 with the image, 409 naming "name"
// when the catalogue has it already.
func (a *API) addImage(w http.ResponseWriter, r *http.Request) {
	var n NewImage
	if err := decodeJSON(r, &n); err != nil {
		fail(w, r, err)
		return
	}
	img, err := a.cfg.Store.AddImage(r.Context(), n.Image())
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/images/"+url.PathEscape(img.Name))
	writeJSON(w, http.StatusCreated, img)
}

// listImages answers GET /v1/images.
func (a *API) listImages(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r.URL.Query()); err != nil {
		fail(w, r, err)
		return
	}
	list, err := a.cfg.Store.Images(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ImageList{Images: list})
}

// getImage answers GET /v1/images/{name}.
func (a *API) getImage(w http.ResponseWriter, r *http.Request) {
	name, ok := imageName(w, r)
	if !ok {
		return
	}
	img, err := a.cfg.Store.Image(r.Context(), name)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, img)
}

// removeImage answers DELETE /v1/images/{name}: 204. Jobs that booted with
// the image keep the copy their boot configuration took.
func (a *API) removeImage(w http.ResponseWriter, r *http.Request) {
	name, ok := imageName(w, r)
	if !ok {
		return
	}
	if err := a.cfg.Store.RemoveImage(r.Context(), name); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// imageName returns the route's image name; a name that cannot exist is 404.
func imageName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if !jobs.ValidImageName(name) {
		problem(w, r, http.StatusNotFound, string(jobs.CodeNotFound), "image "+name+" is not in the catalogue", "")
		return "", false
	}
	return name, true
}
