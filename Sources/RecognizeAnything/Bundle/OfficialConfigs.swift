import Foundation

/// `config.json` of the three official checkpoints (also in `configs/<name>.json`; a test keeps them equal).
public enum OfficialConfigs {
  /// Preset names, after the official checkpoint files.
  public static let names = ["ram_plus_swin_large_14m", "ram_swin_large_14m", "tag2text_swin_14m"]

  /// The JSON text of a preset, or nil for an unknown name.
  public static func json(_ name: String) -> String? {
    switch name {
    case "ram_plus_swin_large_14m":
      return #"""
        {
          "architecture": "ram_plus",
          "image_size": 384,
          "vision": {
            "type": "swin",
            "patch_size": 4,
            "embed_dim": 192,
            "depths": [
              2,
              2,
              18,
              2
            ],
            "num_heads": [
              6,
              12,
              24,
              48
            ],
            "window_size": 12,
            "mlp_ratio": 4.0
          },
          "tagging_head": {
            "hidden_size": 768,
            "num_layers": 2,
            "num_heads": 4,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "encoder_width": 512
          },
          "label_embedding_dim": 512,
          "descriptions_per_class": 51,
          "num_classes": 4585,
          "threshold": {
            "default": 0.68,
            "per_class_file": "thresholds.txt"
          },
          "files": {
            "tags": "tags.txt",
            "tags_zh": "tags_zh.txt",
            "thresholds": "thresholds.txt"
          },
          "checkpoint": {
            "file": "ram_plus_swin_large_14m.pth",
            "bytes": 3010210801,
            "sha256": "497c178836ba66698ca226c7895317e6e800034be986452dbd2593298d50e87d"
          }
        }
        """#
    case "ram_swin_large_14m":
      return #"""
        {
          "architecture": "ram",
          "image_size": 384,
          "vision": {
            "type": "swin",
            "patch_size": 4,
            "embed_dim": 192,
            "depths": [
              2,
              2,
              18,
              2
            ],
            "num_heads": [
              6,
              12,
              24,
              48
            ],
            "window_size": 12,
            "mlp_ratio": 4.0
          },
          "tagging_head": {
            "hidden_size": 768,
            "num_layers": 2,
            "num_heads": 4,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "encoder_width": 512
          },
          "label_embedding_dim": 512,
          "num_classes": 4585,
          "tag_encoder": {
            "hidden_size": 768,
            "num_layers": 12,
            "num_heads": 12,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "encoder_width": 512,
            "max_position_embeddings": 512
          },
          "text_decoder": {
            "hidden_size": 768,
            "num_layers": 12,
            "num_heads": 12,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "encoder_width": 768,
            "max_position_embeddings": 512
          },
          "vocab_size": 30524,
          "unused_by_inference": [
            "tag_encoder",
            "text_decoder"
          ],
          "threshold": {
            "default": 0.68,
            "per_class_file": "thresholds.txt"
          },
          "files": {
            "tags": "tags.txt",
            "tags_zh": "tags_zh.txt",
            "thresholds": "thresholds.txt"
          },
          "checkpoint": {
            "file": "ram_swin_large_14m.pth",
            "bytes": 5625634877,
            "sha256": "15c729c793af28b9d107c69f85836a1356d76ea830d4714699fb62e55fcc08ed"
          }
        }
        """#
    case "tag2text_swin_14m":
      return #"""
        {
          "architecture": "tag2text",
          "image_size": 384,
          "vision": {
            "type": "swin",
            "patch_size": 4,
            "embed_dim": 128,
            "depths": [
              2,
              2,
              18,
              2
            ],
            "num_heads": [
              4,
              8,
              16,
              32
            ],
            "window_size": 12,
            "mlp_ratio": 4.0
          },
          "tagging_head": {
            "hidden_size": 768,
            "num_layers": 2,
            "num_heads": 4,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "encoder_width": 1024
          },
          "num_classes": 3429,
          "tag_encoder": {
            "hidden_size": 768,
            "num_layers": 12,
            "num_heads": 12,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "encoder_width": 1024,
            "max_position_embeddings": 512
          },
          "text_decoder": {
            "hidden_size": 768,
            "num_layers": 12,
            "num_heads": 12,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "encoder_width": 768,
            "max_position_embeddings": 512
          },
          "vocab_size": 30524,
          "caption": {
            "prompt": "a picture of ",
            "num_beams": 3,
            "max_length": 50,
            "min_length": 10,
            "repetition_penalty": 1.0
          },
          "threshold": {
            "default": 0.68,
            "overrides": {
              "2701": 0.7,
              "2828": 0.7,
              "1167": 0.7
            }
          },
          "delete_tag_indices": [
            127,
            2961,
            3351,
            3265,
            3338,
            3355,
            3359
          ],
          "files": {
            "tags": "tags.txt",
            "vocab": "vocab.txt"
          },
          "checkpoint": {
            "file": "tag2text_swin_14m.pth",
            "bytes": 4478705095,
            "sha256": "4ce96f0ce98f940a6680d567f66a38ccc9ca8c4e638e5f5c5c2e881a0e3502ac"
          }
        }
        """#
    default: return nil
    }
  }
}
