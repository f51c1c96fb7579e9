// warmstart: fine-tune detection models from TensorFlow checkpoints without TensorFlow.
// Umbrella header: the public headers in data-flow order.
#pragma once

#include "warmstart/error.hpp"

#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/core/snappy.hpp"
#include "warmstart/core/edit_distance.hpp"
#include "warmstart/core/text.hpp"

#include "warmstart/sstable/format.hpp"
#include "warmstart/sstable/block.hpp"
#include "warmstart/sstable/table.hpp"
#include "warmstart/sstable/table_builder.hpp"

#include "warmstart/proto/wire.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/proto/saved_slices.hpp"
#include "warmstart/proto/trackable.hpp"

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/bundle/ordered_code.hpp"
#include "warmstart/bundle/tensor_data.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/bundle/v1.hpp"
#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/checkpoint_manager.hpp"

#include "warmstart/interop/tensor_source.hpp"
#include "warmstart/interop/zip.hpp"
#include "warmstart/interop/npy.hpp"
#include "warmstart/interop/safetensors.hpp"

#include "warmstart/config/text_lexer.hpp"
#include "warmstart/config/text_format.hpp"
#include "warmstart/config/text_json.hpp"
#include "warmstart/config/schema.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/config/label_map.hpp"

#include "warmstart/restore/pyregex.hpp"
#include "warmstart/restore/variables.hpp"
#include "warmstart/restore/rules.hpp"
#include "warmstart/restore/plan.hpp"
#include "warmstart/restore/apply.hpp"
