"""django-import-export resources for legacy rows, after apps.imports.services has cleaned them.

Each resource names its columns (canonical field → the Chinese and English headers accepted) in
HEADERS, imports idempotently on its natural key, and reports rows that would not change as
unchanged (skip_unchanged), so importing the same file twice changes nothing.

A legacy file holds up to 100,000 rows, so the resources write in bulk: the existing records of the
file are read in a few queries up front (CachedKeyLoader), new and changed ones are written a
thousand at a time, and a row is validated field by field without a query of its own (the cleaners
in services.py have checked every value; the unique key is the import key itself, and what else
must be unique is checked against what was read up front).
"""
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from import_export.instance_loaders import ModelInstanceLoader

from apps.catalog.models import SKU
from apps.customers.models import Address, Customer

from .report import CHANGES_KEPT

CHUNK = 5000  # keys per IN (...) query: SQLite takes at most 32,766 parameters


def chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


class CachedKeyLoader(ModelInstanceLoader):
    """The file's existing records by import key, read CHUNK keys per query (import-export's own
    CachedInstanceLoader asks for every key in one IN list, which SQLite refuses past 32,766)."""

    def __init__(self, resource, dataset=None):
        super().__init__(resource, dataset)
        field = resource.fields[resource.get_import_id_fields()[0]]
        self.key_field = field
        keys = list({field.clean(row) for row in dataset.dict}) if dataset is not None and dataset.headers else []
        self.instances = {}
        for part in chunks(keys):
            for instance in self.get_queryset().filter(**{f"{field.attribute}__in": part}):
                self.instances[field.get_value(instance)] = instance

    def get_instance(self, row):
        return self.instances.get(self.key_field.clean(row))


class BulkResource(resources.ModelResource):
    """What both resources share: bulk writes, the up-front loader, per-field validation only, and
    a progress callback (import_data(..., progress=f): f(rows_done) every PROGRESS_EVERY rows)."""

    PROGRESS_EVERY = 500
    KEY = ("code",)  # a row's natural key in the file, as import_id_fields in the database
    KEY_COLUMN = "code"

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        try:
            instance.full_clean(exclude=errors.keys(), validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def before_import(self, dataset, **kwargs):
        self.changes = []  # (code, field, before, after) of the existing records this file changes

    def skip_row(self, instance, original, row, import_validation_errors=None):
        skipped = super().skip_row(instance, original, row, import_validation_errors)
        if (not skipped and not import_validation_errors and original is not None and original.pk is not None
                and len(self.changes) < CHANGES_KEPT):
            for name in self._meta.fields:
                before, after = getattr(original, name), getattr(instance, name)
                if before != after:
                    self.changes.append((row[self.KEY_COLUMN], name, before, after))
        return skipped

    def after_import_row(self, row, row_result, **kwargs):
        progress, number = kwargs.get("progress"), kwargs.get("row_number", 0)
        if progress is not None and number % self.PROGRESS_EVERY == 0:
            progress(number)

class CustomerResource(BulkResource):
    """Customers with their default address (one row per customer; the address columns travel in
    the row, are compared with the addresses read up front, and are written after the customers,
    once their ids are known)."""

    HEADERS = {
        "code": ("客户编码", "客户代码", "客户编号", "编号", "customer code"),
        "name": ("客户名称", "客户名", "名称", "公司名称", "customer name"),
        "kind": ("客户类型", "类型", "type"),
        "tier": ("客户等级", "等级", "tier"),
        "phone": ("手机", "手机号", "电话", "联系电话", "mobile"),
        "credit_limit": ("信用额度", "授信额度", "credit limit"),
        "payment_terms_days": ("账期", "账期天数", "账期(天)", "payment terms", "terms days"),
        "receiver": ("收货人", "联系人", "receiver", "contact"),
        "province": ("省", "省份", "province"),
        "city": ("市", "城市", "city"),
        "district": ("区", "区县", "县区", "district"),
        "detail": ("详细地址", "地址", "街道地址", "address"),
        "postal_code": ("邮编", "邮政编码", "postal code", "zip"),
    }
    REQUIRED = ("code", "name")

    class Meta:
        model = Customer
        import_id_fields = ["code"]
        fields = ["code", "name", "kind", "tier", "phone", "credit_limit", "payment_terms_days"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True
        use_bulk = True
        batch_size = 1000
        skip_html_diff = True
        instance_loader_class = CachedKeyLoader

    ADDRESS_FIELDS = ("receiver", "phone", "province", "city", "district", "detail", "postal_code")

    def before_import(self, dataset, **kwargs):
        """The addresses the file's existing customers already have, and no address written yet."""
        super().before_import(dataset, **kwargs)
        self.pending_addresses = []
        self.known_addresses = set()
        codes = list({row["code"] for row in dataset.dict})
        for part in chunks(codes):
            for values in Address.objects.filter(customer__code__in=part).values_list("customer_id",
                                                                                        *self.ADDRESS_FIELDS):
                self.known_addresses.add(tuple(values))

    def _has_address(self, customer_id, address) -> bool:
        return (customer_id, *(address[name] for name in self.ADDRESS_FIELDS)) in self.known_addresses

    def _address(self, row) -> dict | None:
        values = {name: row.get(name) or "" for name in ("province", "city", "district", "detail")}
        if not any(values.values()):
            return None
        values["receiver"] = row.get("receiver") or row.get("name") or ""
        values["phone"] = row.get("phone") or ""
        values["postal_code"] = row.get("postal_code") or ""
        return values

    def skip_row(self, instance, original, row, import_validation_errors=None):
        customer_unchanged = super().skip_row(instance, original, row, import_validation_errors)
        address = self._address(row)  # a new default address changes an existing customer too
        moved = address is not None and instance.pk is not None and not self._has_address(instance.pk, address)
        if moved and not import_validation_errors and len(self.changes) < CHANGES_KEPT:
            self.changes.append((row[self.KEY_COLUMN], "detail", "", self.address_text(address)))
        return customer_unchanged and not moved

    @staticmethod
    def address_text(address) -> str:
        return " ".join(filter(None, (address["province"], address["city"], address["district"], address["detail"],
                                      address["receiver"], address["phone"])))

    def after_save_instance(self, instance, row, **kwargs):
        address = self._address(row)
        if address is not None and (instance.pk is None or not self._has_address(instance.pk, address)):
            self.pending_addresses.append((instance, address))

    def after_import(self, dataset, result, **kwargs):
        """The new default addresses, once the customers are written (bulk_create has set their ids);
        the address a customer had as default stays on file, no longer the default."""
        if not self.pending_addresses or result.has_errors() or result.has_validation_errors():
            return
        owners = [instance.pk for instance, _address in self.pending_addresses]
        for part in chunks(owners):
            Address.objects.filter(customer_id__in=part, is_default=True).update(is_default=False)
        Address.objects.bulk_create([Address(customer_id=instance.pk, is_default=True, **address)
                                     for instance, address in self.pending_addresses], batch_size=1000)


class SKUResource(BulkResource):
    """Products: code, barcode, names, unit, weight, shelf life, batch tracking, customs data, price."""

    HEADERS = {
        "code": ("商品编码", "SKU编码", "货号", "物料编码", "sku code", "sku"),
        "barcode": ("条码", "条形码", "商品条码", "barcode", "ean"),
        "name_zh": ("商品名称", "品名", "中文名称", "名称", "name", "chinese name"),
        "name_en": ("英文名称", "英文品名", "english name"),
        "unit": ("单位", "unit"),
        "weight_grams": ("重量(g)", "重量", "克重", "weight", "weight (g)"),
        "shelf_life_days": ("保质期(天)", "保质期", "shelf life", "shelf life days"),
        "batch_tracked": ("批次管理", "是否批次管理", "batch tracked"),
        "hs_code": ("hs编码", "海关编码", "hs code"),
        "origin_country": ("原产国", "产地国", "origin", "country of origin"),
        "list_price": ("售价", "零售价", "标准价", "list price", "price"),
    }
    REQUIRED = ("code", "name_zh")

    # A blank barcode is NULL (the column is unique), and NULL again on re-import is no change.
    barcode = fields.Field(attribute="barcode", column_name="barcode", widget=widgets.CharWidget(allow_blank=False))

    class Meta:
        model = SKU
        import_id_fields = ["code"]
        fields = ["code", "barcode", "name_zh", "name_en", "unit", "weight_grams", "shelf_life_days", "batch_tracked",
                  "hs_code", "origin_country", "list_price"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True
        use_bulk = True
        batch_size = 1000
        skip_html_diff = True
        instance_loader_class = CachedKeyLoader

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.barcode_owner = {}  # kept across the file's chunks

    def before_import(self, dataset, **kwargs):
        """Which code holds each of the file's barcodes now, so a barcode another product already
        has (in the database or higher up in the file) is that row's error, not a failed batch."""
        super().before_import(dataset, **kwargs)
        barcodes = list({row["barcode"] for row in dataset.dict if row.get("barcode")}) if "barcode" in (
            dataset.headers or []) else []
        barcodes = [barcode for barcode in barcodes if barcode not in self.barcode_owner]
        for part in chunks(barcodes):
            self.barcode_owner.update(SKU.objects.filter(barcode__in=part).values_list("barcode", "code"))

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if instance.barcode:
            owner = self.barcode_owner.setdefault(instance.barcode, instance.code)
            if owner != instance.code:
                errors["barcode"] = [_("This barcode belongs to product %(code)s.") % {"code": owner}]
        super().validate_instance(instance, errors, validate_unique)
