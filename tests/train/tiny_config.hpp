// A tiny SSD pipeline.config for training tests: MobileNet V1, depth 0.25, 64x64, shapes://
// inputs, Adam at a constant rate; fields to vary in TinyConfig.
#pragma once

#include <string>

namespace warmstart::test {

struct TinyConfig {
  int num_classes = 3;
  std::string train_extra;  // lines added to train_config
  std::string optimizer = "adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }";
  std::string train_input = "shapes://circle,square,triangle?seed=3";
  std::string eval_input = "shapes://circle,square,triangle?seed=4&count=6";
  bool moving_average = false;  // use_moving_average, decay 0.9
};

inline std::string TinyConfigText(const TinyConfig& c) {
  return R"(model {
  ssd {
    num_classes: )" + std::to_string(c.num_classes) + R"(
    image_resizer { fixed_shape_resizer { height: 64 width: 64 } }
    feature_extractor {
      type: "ssd_mobilenet_v1"
      depth_multiplier: 0.25
      min_depth: 8
      override_base_feature_extractor_hyperparams: true
      conv_hyperparams {
        regularizer { l2_regularizer { weight: 0.00004 } }
        initializer { truncated_normal_initializer { stddev: 0.03 } }
        activation: RELU_6
        batch_norm { decay: 0.9 center: true scale: true epsilon: 0.001 }
      }
    }
    box_coder { faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 } }
    matcher { argmax_matcher { matched_threshold: 0.5 unmatched_threshold: 0.5 force_match_for_each_row: true } }
    similarity_calculator { iou_similarity { } }
    box_predictor {
      convolutional_box_predictor {
        conv_hyperparams {
          regularizer { l2_regularizer { weight: 0.00004 } }
          initializer { truncated_normal_initializer { stddev: 0.03 } }
          activation: RELU_6
          batch_norm { decay: 0.9 center: true scale: true epsilon: 0.001 }
        }
        kernel_size: 1
        box_code_size: 4
      }
    }
    anchor_generator {
      ssd_anchor_generator {
        num_layers: 6 min_scale: 0.2 max_scale: 0.95
        aspect_ratios: 1.0 aspect_ratios: 2.0 aspect_ratios: 0.5
      }
    }
    post_processing {
      batch_non_max_suppression { score_threshold: 0.01 iou_threshold: 0.6 max_detections_per_class: 20 max_total_detections: 20 }
      score_converter: SIGMOID
    }
    normalize_loss_by_num_matches: true
    loss {
      localization_loss { weighted_smooth_l1 { } }
      classification_loss { weighted_sigmoid { } }
      hard_example_miner { num_hard_examples: 3000 iou_threshold: 0.99 loss_type: CLASSIFICATION max_negatives_per_positive: 3 }
      classification_weight: 1.0
      localization_weight: 1.0
    }
  }
}
train_config {
  batch_size: 2
  )" + c.train_extra + R"(
  optimizer { )" + c.optimizer + (c.moving_average ? " use_moving_average: true moving_average_decay: 0.9"
                                                    : " use_moving_average: false") + R"( }
  num_steps: 4
}
train_input_reader { tf_record_input_reader { input_path: ")" + c.train_input + R"(" } }
eval_input_reader { tf_record_input_reader { input_path: ")" + c.eval_input + R"(" } }
)";
}

}  // namespace warmstart::test
