//! Buffered rows → one Parquet file (Arrow schema: time, id, stream, source, typed fields, raw).

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// One buffered record.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) time_ms: i64,
    pub(crate) id: String,
    pub(crate) source: Arc<str>,
    pub(crate) stream: Arc<str>,
    pub(crate) typed: Vec<Option<String>>,
    pub(crate) raw: Bytes,
}

/// The file schema for typed columns named `typed`.
pub(crate) fn schema(typed: &[String]) -> SchemaRef {
    let mut fields = vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("id", DataType::Utf8, false),
        Field::new("stream", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
    ];
    fields.extend(
        typed
            .iter()
            .map(|name| Field::new(name, DataType::Utf8, true)),
    );
    fields.push(Field::new("raw", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// The complete Parquet file of `rows` (Snappy-compressed).
pub(crate) fn encode(schema: &SchemaRef, rows: &[Row]) -> Result<Bytes, String> {
    let batch = record_batch(schema, rows)?;
    let mut writer = writer(schema)?;
    writer
        .write(&batch)
        .map_err(|e| format!("could not write the Parquet file: {e}"))?;
    finish(writer)
}

/// What [`combine`] made of staged parts.
pub(crate) struct Combined {
    /// One file holding every part written with `schema`.
    pub(crate) file: Option<Bytes>,
    /// Rows in `file`.
    pub(crate) rows: usize,
    /// Parts written with another schema (the typed fields changed since): kept as they are.
    pub(crate) other_schema: Vec<Bytes>,
}

/// One file from several complete Parquet files of the same schema.
pub(crate) fn combine(schema: &SchemaRef, parts: Vec<Bytes>) -> Result<Combined, String> {
    let mut writer = writer(schema)?;
    let (mut rows, mut other_schema) = (0, Vec::new());
    for part in parts {
        let reader = ParquetRecordBatchReaderBuilder::try_new(part.clone())
            .map_err(|e| format!("a staged part is not readable Parquet: {e}"))?;
        if reader.schema().fields() != schema.fields() {
            other_schema.push(part);
            continue;
        }
        let reader = reader
            .build()
            .map_err(|e| format!("a staged part is not readable Parquet: {e}"))?;
        for batch in reader {
            let batch = batch.map_err(|e| format!("a staged part is not readable Parquet: {e}"))?;
            rows += batch.num_rows();
            writer
                .write(&batch)
                .map_err(|e| format!("could not write the Parquet file: {e}"))?;
        }
    }
    let file = if rows > 0 {
        Some(finish(writer)?)
    } else {
        None
    };
    Ok(Combined {
        file,
        rows,
        other_schema,
    })
}

fn writer(schema: &SchemaRef) -> Result<ArrowWriter<Vec<u8>>, String> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties))
        .map_err(|e| format!("could not start the Parquet file: {e}"))
}

fn finish(writer: ArrowWriter<Vec<u8>>) -> Result<Bytes, String> {
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| format!("could not finish the Parquet file: {e}"))
}

fn record_batch(schema: &SchemaRef, rows: &[Row]) -> Result<RecordBatch, String> {
    let typed_count = schema.fields().len() - 5;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMillisecondArray::from(rows.iter().map(|r| r.time_ms).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.id))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &*r.stream),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &*r.source),
        )),
    ];
    for i in 0..typed_count {
        columns.push(Arc::new(StringArray::from_iter(
            rows.iter()
                .map(|r| r.typed.get(i).and_then(|v| v.as_deref())),
        )));
    }
    columns.push(Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| String::from_utf8_lossy(&r.raw)),
    )));
    RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| format!("could not build the record batch: {e}"))
}
