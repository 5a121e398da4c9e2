package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// imageFlags names the flag that sets each field the API may refuse.
var imageFlags = map[string]string{
	"name": "NAME", "kernel_url": "--kernel-url", "initrd_url": "--initrd-url", "iso_url": "--iso-url",
	"image_url": "--image-url", "sha256": "--sha256 or --sha256-of",
}

func newImagesCmd() *cobra.Command {
	cmd := groupCmd("images", "Add, list, show and remove the images provisions install (over the HTTP API)")
	cmd.Long = "The image catalogue, over the HTTP API: what a provision installs (a disk image and its SHA-256) and\n" +
		"what the machine boots to install it (a kernel and initrd over the network, an ISO through virtual media).\n" +
		"provision, deprovision and deploy name a catalogue image. Exit codes: 0 done; 2 bad usage, bad input,\n" +
		"an unknown image, a name in use or a token that may not do this; 3 the API could not be reached."
	cmd.AddCommand(newImagesAddCmd(), newImagesListCmd(), newImagesShowCmd(), newImagesRemoveCmd())
	return cmd
}

func newImagesAddCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add NAME --kernel-url URL --initrd-url URL --image-url URL (--sha256 HEX | --sha256-of FILE) [--iso-url URL]",
		Short: "Add an image to the catalogue; prints it",
		Long: "Each URL is http:// or https://, or a path under the boot service's files (--images-dir of tinman api\n" +
			"and tinman dev), served as <boot-url>/boot/files/<path>. The installer checks the disk image against\n" +
			"its SHA-256 before it writes it. An entry is not changed in place: remove it and add it again.",
		Example: "  tinman images add ubuntu-24.04 --kernel-url ubuntu-24.04/vmlinuz --initrd-url ubuntu-24.04/initrd.img \\\n" +
			"      --image-url https://images.example.com/ubuntu-24.04.img --sha256-of ./ubuntu-24.04.img",
		Args:              oneID("image"),
		ValidArgsFunction: noCompletion,
		RunE:              runImagesAdd,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	f := cmd.Flags()
	f.String("kernel-url", "", "the installer's kernel (network boot, and the wiper's)")
	f.String("initrd-url", "", "the installer's initrd")
	f.String("iso-url", "", "a bootable ISO, for provision --boot virtual-media")
	f.String("image-url", "", "the disk image the installer writes")
	f.String("sha256", "", "the disk image's SHA-256, 64 hexadecimal digits")
	f.String("sha256-of", "", "compute the SHA-256 from this local copy of the disk image")
	return cmd
}

func runImagesAdd(cmd *cobra.Command, args []string) error {
	n, err := imageFromFlags(cmd, args[0])
	if err != nil {
		return err
	}
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	img, ans, err := c.AddImage(cmd.Context(), n)
	if err != nil {
		return withFlags(err, imageFlags)
	}
	return printImageAnswer(o, img, ans)
}

// imageFromFlags builds the catalogue entry, checking it here: bad input is
// exit 2 before the API is called.
func imageFromFlags(cmd *cobra.Command, name string) (client.NewImage, error) {
	n := client.NewImage{Name: name, KernelURL: mustString(cmd, "kernel-url"), InitrdURL: mustString(cmd, "initrd-url"),
		ISOURL: mustString(cmd, "iso-url"), ImageURL: mustString(cmd, "image-url"), SHA256: mustString(cmd, "sha256")}
	switch file := mustString(cmd, "sha256-of"); {
	case file != "" && n.SHA256 != "":
		return n, usageErr("give either --sha256 or --sha256-of, not both")
	case file != "":
		sum, err := fileSHA256(file)
		if err != nil {
			return n, usageErr("--sha256-of: %v", err)
		}
		n.SHA256 = sum
	}
	if err := n.Image().Validate(); err != nil {
		e := jobs.AsError(err)
		return n, usageErr("%s (%s): %s", e.Field, imageFlags[e.Field], e.Message)
	}
	return n, nil
}

// fileSHA256 is the SHA-256 of a file, in hex.
func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func newImagesListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the catalogue: NAME, BOOT (netboot, iso), IMAGE URL, SHA256",
		Args:    requireNoArgs,
		RunE:    runImagesList,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	return cmd
}

func runImagesList(cmd *cobra.Command, _ []string) error {
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	list, ans, err := c.Images(cmd.Context())
	if err != nil {
		return err
	}
	return o.object(ans.Body, func(w io.Writer) error { return printImages(w, list.Images) })
}

// printImages writes images as a table, their names in natural order.
func printImages(w io.Writer, list []jobs.Image) error {
	slices.SortFunc(list, func(a, b jobs.Image) int { return naturalCompare(a.Name, b.Name) })
	t := newTable(w, false)
	t.row("NAME", "BOOT", "IMAGE URL", "SHA256")
	for _, img := range list {
		t.row(img.Name, bootsText(img), img.ImageURL, img.SHA256[:min(12, len(img.SHA256))])
	}
	return t.flush()
}

// bootsText says how a machine can boot an image: "netboot" and "iso".
func bootsText(img jobs.Image) string {
	if img.ISOURL != "" {
		return "netboot, iso"
	}
	return "netboot"
}

func newImagesShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "show NAME",
		Aliases:           []string{"get"},
		Short:             "Show a catalogue image: its URLs and checksum",
		Args:              oneID("image"),
		ValidArgsFunction: firstArg(imageNames),
		RunE:              runImagesShow,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	return cmd
}

func runImagesShow(cmd *cobra.Command, args []string) error {
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	img, ans, err := c.Image(cmd.Context(), args[0])
	if err != nil {
		return err
	}
	return printImageAnswer(o, img, ans)
}

// printImageAnswer prints an image the API answered with: its details, one
// per line, or its JSON as sent.
func printImageAnswer(o *output, img jobs.Image, ans *client.Response) error {
	return o.object(ans.Body, func(w io.Writer) error { return printImage(w, img) })
}

// printImage writes an image's details, one per line.
func printImage(w io.Writer, img jobs.Image) error {
	d := newDetails(w)
	d.add("Name", img.Name)
	d.add("Kernel", img.KernelURL)
	d.add("Initrd", img.InitrdURL)
	d.add("ISO", img.ISOURL)
	d.add("Image", img.ImageURL)
	d.add("SHA256", img.SHA256)
	d.add("Created", timestamp(img.CreatedAt, time.Now()))
	return d.flush()
}

func newImagesRemoveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "remove NAME",
		Aliases:           []string{"rm"},
		Short:             "Remove an image from the catalogue",
		Long:              "Jobs that already booted with the image keep what their boot configuration copied of it.",
		Args:              oneID("image"),
		ValidArgsFunction: firstArg(imageNames),
		RunE:              runImagesRemove,
	}
	operatorFlags(cmd)
	return cmd
}

func runImagesRemove(cmd *cobra.Command, args []string) error {
	c, err := newRESTClient(cmd)
	if err != nil {
		return err
	}
	if err := c.RemoveImage(cmd.Context(), args[0]); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "image %s removed\n", args[0])
	return nil
}
