"""django-import-export resources for legacy rows, after apps.imports.services has cleaned them.

Each resource names its columns (canonical field → the Chinese and English headers accepted) in
HEADERS, imports idempotently on its natural key, and reports rows that would not change as
unchanged (skip_unchanged), so importing the same file twice changes nothing.
"""
from import_export import fields, resources, widgets

from apps.catalog.models import SKU
from apps.customers.models import Address, Customer

class CustomerResource(resources.ModelResource):
    """Customers with their default address (one row per customer; the address columns travel in
    the row and are written by after_save_instance)."""

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

    def _address(self, row) -> dict | None:
        values = {name: row.get(name) or "" for name in ("province", "city", "district", "detail")}
        if not any(values.values()):
            return None
        values["receiver"] = row.get("receiver") or row.get("name") or ""
        values["phone"] = row.get("phone") or ""
        values["postal_code"] = row.get("postal_code") or ""
        return values

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not super().skip_row(instance, original, row, import_validation_errors):
            return False
        address = self._address(row)  # the customer is unchanged; is the address too?
        return address is None or Address.objects.filter(customer_id=instance.pk, **address).exists()

    def after_save_instance(self, instance, row, **kwargs):
        address = self._address(row)
        if address is None or Address.objects.filter(customer=instance, **address).exists():
            return
        Address.objects.filter(customer=instance, is_default=True).update(is_default=False)
        Address.objects.create(customer=instance, is_default=True, **address)


class SKUResource(resources.ModelResource):
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
