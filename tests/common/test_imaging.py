
import pytest
from PIL import Image

from services.core.imaging import ImageError, encode_image, inspect_image, sniff_type


def _png(w, h):
    return encode_image(Image.new("L", (w, h), 255))


def test_sniff_from_bytes_not_names():
    assert sniff_type(_png(4, 4)) == "png"
    assert sniff_type(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff_type(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert sniff_type(b"GIF89a") is None


@pytest.mark.parametrize("data,code", [(b"", "empty_image"), (b"just text", "unsupported_image"),
                                       (b"\x89PNG\r\n\x1a\n\0\0", "corrupt_image")])
def test_bad_inputs(data, code):
    with pytest.raises(ImageError) as e:
        inspect_image(data)
    assert e.value.code == code


def test_pixel_bomb_rejected_from_header_alone():
    with pytest.raises(ImageError) as e:
        inspect_image(_png(5000, 5000))
    assert e.value.code == "image_too_many_pixels"


def test_load_image_flattens_light_strokes_onto_black_and_dark_onto_white():
    import numpy as np

    from services.core.imaging import load_image

    for colour, back in (((255, 255, 255), 0), ((0, 0, 0), 255)):
        im = Image.new("RGBA", (40, 40), (*colour, 0))
        for x in range(10, 30):
            im.putpixel((x, 20), (*colour, 255))
        a = np.asarray(load_image(encode_image(im)))
        assert a[0, 0] == back and a[20, 15] == colour[0]
