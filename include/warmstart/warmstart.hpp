// warmstart: fine-tune detection models from TensorFlow checkpoints without TensorFlow.
// Umbrella header: the public headers in data-flow order.
#pragma once

#include "warmstart/error.hpp"

#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/core/snappy.hpp"

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
