/// The built-in model manifest: the text of `configs/manifest.json` (a test keeps the two equal).
public enum OfficialManifest {
  /// The JSON text.
  public static let json = #"""
    {
      "format": "vtag-models/1",
      "comment": "Official files of each model bundle: where they are published, their bundle name, size and sha256 (ram-spec 7.1 and 9). config.json is written from the preset unless listed in files. Built into vtag as OfficialManifest.json (Sources/ModelFetch/OfficialManifest.swift); a test keeps the two equal.",
      "models": [
        {
          "name": "ram_plus",
          "title": "RAM++ (Swin-L, 14M images)",
          "preset": "ram_plus_swin_large_14m",
          "files": [
            {
              "name": "tags.txt",
              "source": "ram_tag_list.txt",
              "url": "https://raw.githubusercontent.com/xinyu1205/recognize-anything/7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/ram_tag_list.txt",
              "bytes": 41904,
              "sha256": "5d96d2f7225527480ad773aaac76b6e5c08a18adf6eae9ca7d2ab923d5e7bd8b"
            },
            {
              "name": "tags_zh.txt",
              "source": "ram_tag_list_chinese.txt",
              "url": "https://raw.githubusercontent.com/xinyu1205/recognize-anything/7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/ram_tag_list_chinese.txt",
              "bytes": 44181,
              "sha256": "c912657a0f30be7b2f5df6ccffa17e1d84561d0bea508528e38b6d0d711bcfbe"
            },
            {
              "name": "thresholds.txt",
              "source": "ram_tag_list_threshold.txt",
              "url": "https://raw.githubusercontent.com/xinyu1205/recognize-anything/7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/ram_tag_list_threshold.txt",
              "bytes": 22016,
              "sha256": "b6f81d0de1bc7f9c251af512c413eae976c77dbfbadf700d4e3d90510f4c6447"
            },
            {
              "name": "model.pth",
              "source": "ram_plus_swin_large_14m.pth",
              "url": "https://huggingface.co/xinyu1205/recognize-anything-plus-model/resolve/main/ram_plus_swin_large_14m.pth",
              "bytes": 3010210801,
              "sha256": "497c178836ba66698ca226c7895317e6e800034be986452dbd2593298d50e87d"
            }
          ]
        },
        {
          "name": "ram",
          "title": "RAM (Swin-L, 14M images)",
          "preset": "ram_swin_large_14m",
          "files": [
            {
              "name": "tags.txt",
              "source": "ram_tag_list.txt",
              "url": "https://raw.githubusercontent.com/xinyu1205/recognize-anything/7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/ram_tag_list.txt",
              "bytes": 41904,
              "sha256": "5d96d2f7225527480ad773aaac76b6e5c08a18adf6eae9ca7d2ab923d5e7bd8b"
            },
            {
              "name": "tags_zh.txt",
              "source": "ram_tag_list_chinese.txt",
              "url": "https://raw.githubusercontent.com/xinyu1205/recognize-anything/7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/ram_tag_list_chinese.txt",
              "bytes": 44181,
              "sha256": "c912657a0f30be7b2f5df6ccffa17e1d84561d0bea508528e38b6d0d711bcfbe"
            },
            {
              "name": "thresholds.txt",
              "source": "ram_tag_list_threshold.txt",
              "url": "https://raw.githubusercontent.com/xinyu1205/recognize-anything/7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/ram_tag_list_threshold.txt",
              "bytes": 22016,
              "sha256": "b6f81d0de1bc7f9c251af512c413eae976c77dbfbadf700d4e3d90510f4c6447"
            },
            {
              "name": "model.pth",
              "source": "ram_swin_large_14m.pth",
              "url": "https://huggingface.co/xinyu1205/recognize_anything_model/resolve/main/ram_swin_large_14m.pth",
              "bytes": 5625634877,
              "sha256": "15c729c793af28b9d107c69f85836a1356d76ea830d4714699fb62e55fcc08ed"
            }
          ]
        },
        {
          "name": "tag2text",
          "title": "Tag2Text (Swin-B, 14M images)",
          "preset": "tag2text_swin_14m",
          "files": [
            {
              "name": "tags.txt",
              "source": "tag2text_ori_tag_list.txt",
              "url": "https://raw.githubusercontent.com/xinyu1205/recognize-anything/7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/tag2text_ori_tag_list.txt",
              "bytes": 29062,
              "sha256": "7d05c7cb88ed46a2aee1434776964f6bdbda0c0f4233c8633e109084382d3a45"
            },
            {
              "name": "vocab.txt",
              "source": "vocab.txt",
              "url": "https://huggingface.co/bert-base-uncased/resolve/main/vocab.txt",
              "bytes": 231508,
              "sha256": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
            },
            {
              "name": "model.pth",
              "source": "tag2text_swin_14m.pth",
              "url": "https://huggingface.co/xinyu1205/recognize_anything_model/resolve/main/tag2text_swin_14m.pth",
              "bytes": 4478705095,
              "sha256": "4ce96f0ce98f940a6680d567f66a38ccc9ca8c4e638e5f5c5c2e881a0e3502ac"
            }
          ]
        }
      ]
    }
    """#
}
